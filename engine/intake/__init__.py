"""Event intake in Segment's shape: parse and validate, store each event once, resolve the person.

Each stored batch is handed to the runtime's reactions in the order it happened.
"""
