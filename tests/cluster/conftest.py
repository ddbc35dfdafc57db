from tests.pg.conftest import pg_dsn
from tests.pg.databases import pg_template

__all__ = ["pg_dsn", "pg_template"]
