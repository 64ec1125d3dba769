"""Every message between actors and every on-disk format of the SPEC, as msgspec Structs.

- `messages.handoff`: the input format and its validation.
- `messages.records`: challenger, metrics line, reason file, failure record.
- `messages.commands`: what actors tell each other (commands are verbs, events past tense).
"""
