"""The benchmark harness: `make bench` (python -m bench.run). Not part of `make test`.

generate.py writes the scale data set as Parquet; stores.py loads it into DuckDB and PostgreSQL;
measure.py times the library, the driver and the user's pandas alternative; http.py loads the
HTTP server from a separate process; report.py writes bench/report.md and bench/report.json.
"""
