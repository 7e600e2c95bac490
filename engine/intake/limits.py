"""The most the intake takes, so that no request, however it is built, costs the server more than a bounded amount.

Where Segment has a limit of its own (32 KB an event, 500 KB a batch) it is kept, so whatever a Segment library
sends fits. The others bound what a hand-written request could make the server parse, store or carry into the
engine; each is named in the reason an event is refused with.
"""

#: The most read off the wire for any /v1 request (compressed or not), and the most a /v1/batch body may be,
#: or inflate to when it is gzipped: Segment's own batch limit.
MAX_BATCH_BYTES = 500 * 1024

#: One event: the body of /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group or /v1/alias (inflated), or
#: one message of a batch, measured as compact JSON. Segment's own limit.
MAX_EVENT_BYTES = 32 * 1024

#: Messages in one batch. Segment's libraries send at most 100; the byte limit allows ~2,500 small ones.
MAX_BATCH_EVENTS = 2_500

#: How deep objects and arrays may nest inside an event's properties, traits or context.
MAX_NESTING = 32

#: Keys at the top of an event's properties, traits or context.
MAX_PROPERTIES = 500

#: userId, anonymousId, messageId, groupId and previousId: the width of the columns that hold them.
MAX_ID_CHARS = 200

#: A track's event name, a page's or screen's name: the width of the event's name column.
MAX_NAME_CHARS = 200

#: A time zone from the context or the traits: the width of the profile's time zone column.
MAX_TIMEZONE_CHARS = 64

#: Integers in an event must fit in 64 bits: what both databases' JSON functions and every SDK's numbers carry,
#: and what the engine's conditions can compare (they compare numbers as floats).
MAX_INTEGER = 2**63 - 1
MIN_INTEGER = -(2**63)
