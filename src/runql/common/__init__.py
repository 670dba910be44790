"""What every layer shares and none owns: the size-bounded cache (``bounded``), RLIKE's RE2 matching
(``regex``), the redaction of texts shown in messages (``redact``), optional dependencies (``optional``),
the old module paths (``aliases``) and the generated part of docs/errors.md (``errors_doc``)."""
