// The client of credbrokerd's socket API (docs/client-library.md).
