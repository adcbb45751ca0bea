#!/bin/sh
# The hook script of udhcpc, dhclient and dhcpcd in phoneprov's system
# tests: prints the event (udhcpc passes it as $1, the others as $reason)
# and the whole environment, which holds what the server sent, then exits.
# It configures nothing: the test reads what it printed.
echo "--- event ${reason:-$1}"
env | sort
echo "--- end"
