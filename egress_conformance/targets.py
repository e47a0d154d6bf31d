"""The external hosts the scenarios call. On the local mesh they all resolve to
the run's own httpbin; on a real cluster they are the real hosts."""

HTTPBIN = "httpbin.org"
HTTPBIN_WWW = "www.httpbin.org"
UNLISTED = "example.com"
"""A host no scenario ever opens: the negative control for 'only what was allowed'."""

ALL = (HTTPBIN, HTTPBIN_WWW, UNLISTED)
