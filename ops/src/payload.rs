//! Payloads decoded to JSON with the table's descriptors (prost-reflect, the proto3 JSON
//! mapping), or shown in hex when they do not decode.
