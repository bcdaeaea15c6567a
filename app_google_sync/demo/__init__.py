"""The embedded demo: a throwaway slapd seeded with a sample organisation plus the emulator."""
