"""Pure OCI data: digests, references, media types. No I/O."""
