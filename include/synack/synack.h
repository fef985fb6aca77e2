/* synack: everything a program embedding the stack needs. */
#ifndef SYNACK_SYNACK_H
#define SYNACK_SYNACK_H

#include "synack/base.h"
#include "synack/pcap.h"
#include "synack/sim.h"
#include "synack/socket.h"
#include "synack/sockopt.h"
#include "synack/stack.h"
#include "synack/wire.h"

#endif
