"""Disclosure bundles for subject access requests (issue 39; docs/disclosure.md, decision 0048).

A request names a subject (a person in the lake) and who asks (the subject, or a parent acting for a child).
:mod:`lake.disclosure.bundle` compiles every record about the subject, :mod:`lake.disclosure.propose` proposes
what to redact by *who each person is to the request* (resolved people, kinship links, professional roles), each
proposal with its reason code, confidence and evidence, and :mod:`lake.disclosure.export` writes the bundle as a
PDF whose redactions are real: the text is never written, and scanned pages have their pixels burned out.
Plain functions: the CLI and (later) the app call them; nothing here decides what a person must decide.
"""

from lake.disclosure.bundle import (
    Compiled,
    DisclosureRequest,
    RequestError,
    compile_items,
    new_request,
)
from lake.disclosure.export import Exported, export_pdf, extracted_text, scanned_pages
from lake.disclosure.propose import propose, redactions

__all__ = [
    "Compiled",
    "DisclosureRequest",
    "Exported",
    "RequestError",
    "compile_items",
    "export_pdf",
    "extracted_text",
    "new_request",
    "propose",
    "redactions",
    "scanned_pages",
]
