"""Who may do what: users and their sessions, intake write keys and API tokens, and each role's permissions.

Passwords are hashed with argon2id; keys and tokens are shown once and stored as hashes.
"""
