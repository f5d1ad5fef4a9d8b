"""The monitor's migration matches its models, and its branch is labelled."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from oemhost.db import Base, alembic_config, make_engine, migrate


def test_migration_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    mine = [d for d in diff if "monitor_" in repr(d)]
    assert mine == []


def test_branch_label_and_base():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revs = [r for r in script.walk_revisions() if "monitor" in (r.branch_labels or ())]
    assert len(revs) == 1 and revs[0].down_revision is None
