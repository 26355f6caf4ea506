"""Layer tars: compression sniffing and safe extraction (whiteouts, hardlinks, no escapes)."""
