"""`wharfie registry serve`: an OCI distribution registry on asyncio + h11 over files on disk.

Modules, bottom up: `names` (what a repository, tag and digest may look like), `errors` (the
distribution spec's error codes), `ranges` (Range/Content-Range headers), `manifests` (what a
pushed manifest references), `storage` (blobs, repository links, tags on disk), `uploads`
(upload sessions in a staging dir), `auth` (htpasswd + Basic), `routes` (the HTTP API),
`gc` (mark and sweep of unreferenced blobs), `serve` (listener, TLS, the root lock).
"""
