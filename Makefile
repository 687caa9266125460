# Regenerate the experiments' tables and figures under experiments/results/ (each also runs
# alone: python experiments/<name>.py), then the README's results table, and record the package
# versions that produced them (lower-bound dependencies can move a random stream). The world fit
# (experiments/world_fit.toml) is not rerun here: its committed result is read.
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
EXPERIMENTS := world_fit bass_limit iceberg_wom tarp_repurchase manage_vs_fix goodwill broken_promise retention_economics network_structure calibration_recovery churn_contagion recovery_paradox wom_frequency story_directions

.PHONY: experiments readme-table $(EXPERIMENTS)

experiments: $(EXPERIMENTS)
	$(PYTHON) experiments/table.py README.md
	$(PYTHON) -m pip freeze --exclude-editable > experiments/constraints.txt

$(EXPERIMENTS):
	cd experiments && ../$(PYTHON) $@.py

readme-table:
	$(PYTHON) experiments/table.py README.md
