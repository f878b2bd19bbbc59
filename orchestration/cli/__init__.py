"""The ``caselake`` command line. Each command is a thin shell over a plain function, in the module named for
it (``generate``, ``pipeline``, ``evaluate``, ``search``, ``serve``, ``costs``, ``lineage``) or for its
sub-command group (``insights``, ``users``, ``tables`` for ``caselake lake``, ``audit``, ``returns``, ``disclosure``); ``common`` holds the
console, ``fail()``, the settings and the progress bars.

Commands are registered here, in one list, because the order they are registered in is the order
``caselake --help`` shows them. Every module imports only typer and rich at the top: the libraries a command
needs are imported inside it, so that ``caselake --help`` (and every command) starts fast.
"""

from __future__ import annotations

import typer

from orchestration.cli import (
    audit,
    costs,
    demo,
    disclosure,
    evaluate,
    generate,
    insights,
    lineage,
    pipeline,
    returns,
    search,
    serve,
    tables,
    users,
)

app = typer.Typer(help="caselake: a lakehouse for children's social care records.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """caselake: land case-management exports, make every record searchable, serve the app."""
    from lake.storage.private import private_files

    private_files()  # every file a command writes (the lake, the warehouse, the journal) is its owner's only


app.command("synth")(generate.synth)
app.command("load")(pipeline.load)
app.command("extract-text")(pipeline.extract_text)
app.command("build-entity-model")(pipeline.build_entity_model)
app.command("extract-entities")(pipeline.extract_entities)
app.command("eval")(evaluate.evaluate)
app.command("synth-agency")(generate.synth_agency)
app.command("search")(search.search_command)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("costs")(costs.costs)
app.command("lineage")(lineage.lineage)

app.add_typer(insights.insights_app, name="insights")
app.add_typer(users.users_app, name="users")
app.add_typer(tables.lake_app, name="lake")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(returns.returns_app, name="returns")
app.add_typer(disclosure.disclosure_app, name="disclosure")

__all__ = ["app"]
