/* Reasons for the wire codecs' negative return codes (enum synack_wire_err). */
#include "synack/wire.h"

const char *synack_wire_strerror(int err)
{
    switch (err) {
    case SYNACK_WIRE_OK:       return "ok";
    case SYNACK_WIRE_ETRUNC:   return "truncated";
    case SYNACK_WIRE_EVERSION: return "bad IP version";
    case SYNACK_WIRE_EHDRLEN:  return "header length too small";
    case SYNACK_WIRE_ETOTLEN:  return "bad IPv4 total length";
    case SYNACK_WIRE_ECSUM:    return "bad checksum";
    case SYNACK_WIRE_EOPTLEN:  return "bad option length";
    case SYNACK_WIRE_EOPTVAL:  return "bad option size for its kind";
    case SYNACK_WIRE_ETYPE:    return "unsupported ICMP type or code";
    case SYNACK_WIRE_ENOSPC:   return "output buffer too small";
    case SYNACK_WIRE_EINVAL:   return "invalid header fields";
    default:                   return "unknown";
    }
}
