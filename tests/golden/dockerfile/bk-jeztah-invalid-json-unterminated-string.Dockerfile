CMD ["echo", "look ma, no quote!]
