# Regenerate the validation experiments' tables and figures under experiments/results/
# (each also runs alone: python experiments/<name>.py), then the README's results table.
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
EXPERIMENTS := bass_limit iceberg_wom tarp_repurchase manage_vs_fix goodwill broken_promise retention_economics network_structure calibration_recovery

.PHONY: experiments readme-table $(EXPERIMENTS)

experiments: $(EXPERIMENTS)
	$(PYTHON) experiments/table.py README.md

$(EXPERIMENTS):
	cd experiments && ../$(PYTHON) $@.py

readme-table:
	$(PYTHON) experiments/table.py README.md
