"""Message content: Liquid templates rendered for one customer, and the signed unsubscribe links they carry.

Used by the compiler (parsing), the runtime (rendering at send time) and the intake of unsubscribes.
"""
