FROM alpine
CMD --not-a-flag-for-cmd
