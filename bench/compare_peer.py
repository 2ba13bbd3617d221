"""One peer extraction, run as its own process by bench/compare.py:

    compare_peer.py TOOL DB TABLE OUT.parquet

TOOL: connectorx | duckdb-python | pandas; DB: postgres | mysql.
"""

import os
import sys

tool, db, table, out = sys.argv[1:5]
query = f"SELECT * FROM {table}"
DB = "connector_bench"

if tool == "connectorx":
    import connectorx as cx
    import pyarrow.parquet as pq

    uri = (f"postgresql://postgres@127.0.0.1:5432/{DB}" if db == "postgres"
           else f"mysql://root:@127.0.0.1:3306/{DB}")
    table_ = cx.read_sql(uri, query, return_type="arrow")
    pq.write_table(table_, out)  # pyarrow's defaults: snappy, row groups of up to 1Mi rows

elif tool == "duckdb-python":
    # The same engine and the same extension files as the connector, so any
    # gap between the two is the connector's own overhead.
    import duckdb

    con = duckdb.connect(config={"extension_directory": os.environ["DUCKDB_EXTENSION_DIRECTORY"],
                                 "autoinstall_known_extensions": False})
    if db == "postgres":
        con.execute("LOAD postgres_scanner")
        con.execute(f"ATTACH 'host=127.0.0.1 port=5432 user=postgres dbname={DB}' AS db (TYPE postgres, READ_ONLY)")
    else:
        con.execute("LOAD mysql_scanner")
        con.execute(f"ATTACH 'host=127.0.0.1 port=3306 user=root database={DB}' AS db (TYPE mysql, READ_ONLY)")
    con.execute("USE db")
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")

elif tool == "pandas":
    import pandas as pd
    import sqlalchemy

    uri = (f"postgresql+psycopg2://postgres@127.0.0.1:5432/{DB}" if db == "postgres"
           else f"mysql+pymysql://root@127.0.0.1:3306/{DB}")
    engine = sqlalchemy.create_engine(uri)
    with engine.connect() as conn:
        df = pd.read_sql(query, conn)
    df.to_parquet(out, index=False)

else:
    sys.exit(f"unknown tool {tool}")
