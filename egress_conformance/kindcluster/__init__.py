"""The kind provider's own layer: the exact commands and manifest edits it issues (commands),
and running them without a shell or touching this process's environment (runner)."""
