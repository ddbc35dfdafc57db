from tests.pg.databases import pg_template

__all__ = ["pg_template"]
