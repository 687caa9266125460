"""Held-out validation: churn contagion (Nitzan & Libai 2011).

Nitzan & Libai (2011, J. Marketing 75(6); about a million mobile customers)
found that exposure to a neighbour who defected raises one's own hazard of
defecting by about 80%, most in the first month, decaying within months, and
less for long-tenured customers. Nothing in cxsim is fitted or chosen to
reproduce this: no mechanism copies a neighbour's leaving. Whatever contagion
there is emerges from what leavers told their contacts before they left and
from the praise of competitors. This is the one check that is independent of
every input; if the model misses it, the miss is the result.

**Estimator (fixed before it was run on the fitted world; do not change it
after looking).**

* World: the default world, the flagship market (``scenarios/manage_vs_fix.toml``:
  20,000 people, small world of mean degree 10, two companies, three years),
  replications 0-4 of seed 1. Occasions in the first 180 days are left out (the
  day-0 population's tenures and attitudes are set, not lived).
* Unit: a purchase occasion (leaving is decided at the occasion): a customer due to
  buy either bought again from its provider (``purchase`` the next day) or left
  (``left``/``switched_out``). Customers who joined the day before are left out
  (their occasion was the one that made them join).
* Exposure: a contact of the customer who was a customer of the same company
  left it (``left`` or ``switched_out``) in the days before the decision day
  (the same day excluded: simultaneous). Exposure windows by the most recent such
  defection: 1-30, 31-90, 91-180 days before (none in 180 days: unexposed).
* Model: discrete-time logistic regression of leaving at an occasion on the
  three exposure windows, the 1-30-day window times long tenure (more than two
  years), log(1 + tenure in years), and fixed effects for company x year
  (statsmodels GLM, binomial, logit link), with standard errors clustered by
  customer and replication. For a rare event the odds ratio approximates the
  hazard ratio.
* Reported: the odds ratio of the 1-30-day window (Nitzan & Libai: about 1.8)
  with its 95% interval; the later windows (decay); the tenure interaction.

Run: ``python experiments/churn_contagion.py`` (writes experiments/results/churn_contagion/).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.events import Event
from cxsim.run import run_market

NAME = "churn_contagion"
FLAGSHIP = Path(__file__).resolve().parents[1] / "scenarios" / "manage_vs_fix.toml"
REPLICATIONS = 5
BURN_IN_DAYS = 180
WINDOWS = ((1, 30), (31, 90), (91, 180))
LONG_TENURE_YEARS = 2.0
NEVER = -(10**6)  # "no defection seen": far in the past
NITZAN_LIBAI_RATIO = 1.8


class OccasionLog:
    """An observer: every purchase occasion (bought again or left) with the exposure before it.

    Keeps, per company and person, the last day one of the person's contacts left that
    company; at each occasion it records the decision day, customer, company, whether
    the customer left, its tenure, and the days since that last defection.
    """

    listens_to = (Event.purchase, Event.left, Event.switched_out, Event.joined, Event.switched_in)

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def attach(self, market) -> None:
        """Start watching ``market`` (day 0)."""
        self.market = market
        k = len(market.companies)
        self.last_defection = np.full((k, market.customers.n), NEVER, dtype=np.int32)
        # Each customer's day of joining its provider, as it was before today's changes.
        self.joined = market.customers.join_day.copy()
        # The decision of a leaver is recorded before its contacts learn of it (same day: not exposure).
        self.pending: list[tuple[int, np.ndarray, np.ndarray]] = []

    def on_event(self, day: int, event: Event, customers: np.ndarray, companies) -> None:
        """Record occasions; note who joined (their tenure) and who left (their contacts' exposure)."""
        company = np.broadcast_to(np.asarray(companies, dtype=np.int64), customers.shape)
        if event in (Event.joined, Event.switched_in):
            self.joined[customers] = day
        elif event == Event.purchase:
            # Bought again today: decided yesterday. Newcomers (joined yesterday) are left out.
            keep = (day - self.joined[customers] > 1) & (day - 1 > BURN_IN_DAYS)
            self._record(day - 1, customers[keep], company[keep], left=0)
        else:
            if day > BURN_IN_DAYS:
                self._record(day, customers, company, left=1)
            self.pending.append((day, customers.copy(), company.copy()))

    def on_day(self, market) -> None:
        """After the day: today's leavers become exposure for their contacts from tomorrow."""
        for day, leavers, company in self.pending:
            deg, contacts = market.network.contacts(leavers)
            if contacts.size:
                self.last_defection[np.repeat(company, deg), contacts] = day
        self.pending = []

    def _record(self, day: int, customers: np.ndarray, company: np.ndarray, left: int) -> None:
        if customers.size == 0:
            return
        tenure = np.maximum(day - self.joined[customers], 0)
        since = day - self.last_defection[company, customers]
        self.rows.append(
            np.stack(
                [
                    np.full(customers.size, day),
                    customers,
                    company,
                    np.full(customers.size, left),
                    tenure,
                    since,
                ],
                axis=1,
            ).astype(np.int64)
        )

    def frame(self) -> pd.DataFrame:
        """One row per occasion."""
        columns = ["day", "customer", "company", "left", "tenure_days", "days_since_defection"]
        if not self.rows:
            return pd.DataFrame(columns=columns)
        return pd.DataFrame(np.concatenate(self.rows), columns=columns)


def occasions(replication: int, overrides: dict | None = None) -> pd.DataFrame:
    """The occasions of one replication of the flagship (with ``overrides``)."""
    loaded = scenario.load(FLAGSHIP, overrides or {})
    log = OccasionLog()
    run_market(loaded.params, replication, base_dir=loaded.base_dir, observers=[log])
    frame = log.frame()
    frame.insert(0, "replication", replication)
    return frame


def design(frame: pd.DataFrame) -> pd.DataFrame:
    """The regression's columns: exposure windows, tenure, company x year."""
    since = frame["days_since_defection"].to_numpy()
    out = pd.DataFrame(index=frame.index)
    for low, high in WINDOWS:
        out[f"exposed_{low}_{high}"] = ((since >= low) & (since <= high)).astype(float)
    years = frame["tenure_days"].to_numpy() / 365.0
    out["exposed_1_30_x_long_tenure"] = out["exposed_1_30"] * (years > LONG_TENURE_YEARS)
    out["log_tenure"] = np.log1p(years)
    cell = frame["company"].astype(str) + "_" + (frame["day"] // 365).astype(str)
    out = out.join(pd.get_dummies(cell, prefix="company_year", dtype=float))
    return out


def fit(frame: pd.DataFrame) -> pd.DataFrame:
    """Odds ratios with 95% intervals (clustered by customer and replication)."""
    import statsmodels.api as sm

    x = design(frame)
    groups = pd.factorize(frame["replication"].astype(str) + "_" + frame["customer"].astype(str))[0]
    model = sm.GLM(frame["left"].to_numpy(float), x, family=sm.families.Binomial())
    result = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    ci = result.conf_int()
    terms = [c for c in x.columns if not c.startswith("company_year")]
    return pd.DataFrame(
        {
            "term": terms,
            "coefficient": result.params[terms].to_numpy(),
            "odds_ratio": np.exp(result.params[terms].to_numpy()),
            "ci95_low": np.exp(ci.loc[terms, 0].to_numpy()),
            "ci95_high": np.exp(ci.loc[terms, 1].to_numpy()),
            "p_value": result.pvalues[terms].to_numpy(),
        }
    )


def main(replications: int = REPLICATIONS) -> None:
    with Timer() as timer:
        frames = parallel_map(occasions, range(replications))
        data = pd.concat(frames, ignore_index=True)
        table = fit(data)
    folder = out_dir(NAME)
    table.to_csv(folder / "odds_ratios.csv", index=False)
    counts = data.groupby("left").size()
    exposed = (data["days_since_defection"].between(1, 30)).mean()
    first = table.set_index("term").loc["exposed_1_30"]
    later = table.set_index("term").loc[["exposed_31_90", "exposed_91_180"], "odds_ratio"]
    inside = first.ci95_low <= NITZAN_LIBAI_RATIO <= first.ci95_high
    verdict = "within" if inside else "outside"
    headline = (
        f"exposure to a neighbour who left in the last 30 days multiplies the odds of leaving at an "
        f"occasion by {first.odds_ratio:.2f} [{first.ci95_low:.2f}, {first.ci95_high:.2f}] "
        f"(Nitzan & Libai 2011: about 1.8, {verdict} the interval); 31-90 days "
        f"{later.iloc[0]:.2f}, 91-180 days {later.iloc[1]:.2f}"
    )
    write_headline(
        NAME,
        "Churn contagion (held out)",
        headline,
        {
            "occasions": int(counts.sum()),
            "left": int(counts.get(1, 0)),
            "share_exposed_1_30": float(exposed),
            "replications": replications,
            "odds_ratios": table.to_dict("records"),
            "seconds": timer.seconds,
        },
        kind="validation",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    main(parser.parse_args().replications)
