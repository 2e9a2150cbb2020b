"""Each service's alembic history builds exactly the tables its models declare, and goes back down."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InternalError

from chassis.migrations import alembic_config, upgrade
from chassis.tables import chassis_metadata
from gateway.models import Base as GatewayBase
from services.assistance.models import Base as AssistanceBase
from services.care.models import Base as CareBase
from services.charity.models import Base as CharityBase
from services.funeral.models import Base as FuneralBase
from services.marriage.models import Base as MarriageBase

SERVICES = {"services/marriage": MarriageBase, "services/assistance": AssistanceBase, "services/care": CareBase,
            "services/charity": CharityBase, "services/funeral": FuneralBase, "gateway": GatewayBase}


@pytest.mark.parametrize("path", sorted(SERVICES))
def test_migrations_match_the_models(make_database, path):
    url = make_database("migrations")
    upgrade(path, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), [chassis_metadata, SERVICES[path].metadata])
        # the audit table is append-only, whatever the caller
        conn.execute(text("INSERT INTO audit_log (at, actor_id, actor_role, action, subject, outcome) "
                          "VALUES (now(), 'a', 'clerk', 'x', 'y', 'ok')"))
        with pytest.raises(InternalError, match="append-only"):
            conn.execute(text("UPDATE audit_log SET outcome = 'changed'"))
        conn.rollback()
    engine.dispose()
    assert diff == []
    from alembic import command
    command.downgrade(alembic_config(path, url), "base")
    engine = create_engine(url)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                 "AND tablename <> 'alembic_version'")).scalar()
    engine.dispose()
    assert left == 0
