"""Named volumes, bind mounts and tmpfs for containers."""
