"""Kuaichu (快处): video handling of minor traffic accidents.

Imports point down; pyproject.toml's [tool.importlinter] contract says it exactly and
tests/test_layers.py holds the code to it:

    cli, app                       start-up: settings, the database, the scheduler, the routers
    web, demo, tables              pages, request context and dependencies, security headers
    retention | supervision | metrics | media
    invitations                    other parties join by the case's link; a 122 caller's case
    seats                          an insurer's agents in a live call (see, speak, never edit)
    claims | backoffice | collection | calls | progress
    settlement | reviews | recognition
    liability : documents
    signatures                     each party's signed confirmation of the recorded facts
    signals                        fraud and quality signals: named rules, never a decision
    eligibility | evidence
    registries | auth
    consent
    notify                         the outbox, deliveries, telling a case's parties
    cases                          the case, its lifecycle (states, transitions, what may be
                                   edited when), who may see or write it, its views
    audit | geo | bus | limit_locks | limits | legal | migrate | scheduler
    db, clock, settings, errors, messages, privacy, principal

A layer imports only the layers below it ("|": siblings that never import each other; ":":
siblings that may). Each package's api.py router belongs to the web layer wherever it sits.

Where a new feature goes: its own package (models.py tables, schemas.py shapes, service.py the
rules, api.py a thin router), placed in the lowest layer above everything it uses, and added to
the contract. A rule about which state allows a change goes to cases/lifecycle.py; who may
make it to cases/access.py; a word a person reads to the message catalogue (messages/); a
periodic job to the app's scheduler; a message to a person to the outbox (notify), written in
the transaction of the change that causes it.
"""
