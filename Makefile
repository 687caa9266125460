# Regenerate the experiments' tables and figures under experiments/results/ (each also runs
# alone: python experiments/<name>.py), then the README's results table, and record the package
# versions that produced them (lower-bound dependencies can move a random stream).
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
EXPERIMENTS := bass_limit iceberg_wom tarp_repurchase manage_vs_fix goodwill broken_promise retention_economics network_structure calibration_recovery

.PHONY: experiments readme-table $(EXPERIMENTS)

experiments: $(EXPERIMENTS)
	$(PYTHON) experiments/table.py README.md
	$(PYTHON) -m pip freeze --exclude-editable > experiments/constraints.txt

$(EXPERIMENTS):
	cd experiments && ../$(PYTHON) $@.py

readme-table:
	$(PYTHON) experiments/table.py README.md
