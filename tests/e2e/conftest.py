from tests.log_guard import no_secrets_in_logs
from tests.pg.databases import pg_template

__all__ = ["no_secrets_in_logs", "pg_template"]
