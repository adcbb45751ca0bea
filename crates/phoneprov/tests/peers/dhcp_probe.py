#!/usr/bin/python3
"""One DHCP exchange at layer 2, for phoneprov's system tests.

Sends a DISCOVER from any client MAC (the Ethernet source and chaddr both),
then a REQUEST for what was offered, and prints every reply it receives
for that transaction as one line: its message type and the whole BOOTP
message in hex ("offer 0201...", "ack 0201...", "nak ..."). The test decodes
and checks the bytes itself. Exit status: 0 ACK, 1 no answer, 2 NAK.

    ip netns exec NS /usr/bin/python3 dhcp_probe.py --iface IF --mac 00:18:b9:00:00:01

Needs CAP_NET_RAW and Debian's python3-scapy (so /usr/bin/python3).
"""
import argparse
import random
import select
import sys
import time

from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf

conf.verb = 0
NAMES = {2: "offer", 5: "ack", 6: "nak"}


def message_type(bootp):
    for opt in bootp[DHCP].options if bootp.haslayer(DHCP) else []:
        if isinstance(opt, tuple) and opt[0] == "message-type":
            return opt[1]
    return None


def exchange(listen, frame, xid, timeout, retries):
    """Sends `frame` until a reply for `xid` comes; returns the BOOTP layer."""
    for _ in range(retries):
        conf.L2socket(iface=listen.iface).send(frame)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([listen], [], [], left)
            if not ready:
                continue
            packet = listen.recv()
            if packet is None or not packet.haslayer(BOOTP) or packet[UDP].dport != 68:
                continue
            bootp = packet[BOOTP]
            if bootp.op == 2 and bootp.xid == xid:
                return bootp
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iface", required=True)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--vendor", default="Cisco Systems, Inc. IP Phone CP-7940G")
    parser.add_argument("--params", default="1,3,6,15,42,66,150",
                        help="option 55, comma-separated")
    parser.add_argument("--broadcast", action="store_true", help="set the broadcast flag")
    parser.add_argument("--timeout", type=float, default=2.0, help="per try, seconds")
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args()

    mac = args.mac.lower()
    chaddr = bytes.fromhex(mac.replace(":", "")) + bytes(10)
    xid = random.getrandbits(32)
    params = [int(code) for code in args.params.split(",") if code]
    head = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67))
    bootp = BOOTP(op=1, xid=xid, chaddr=chaddr, flags=0x8000 if args.broadcast else 0)
    asks = [("vendor_class_id", args.vendor.encode() + b"\0"), ("param_req_list", params)]

    # Open the capture before the first send, so no reply can come too
    # early. (No BPF filter: scapy compiles those with libpcap, which Debian's
    # python3-scapy does not pull in.)
    listen = conf.L2listen(iface=args.iface)
    try:
        discover = head / bootp / DHCP(options=[("message-type", "discover")] + asks + ["end"])
        offer = exchange(listen, discover, xid, args.timeout, args.retries)
        if offer is None or message_type(offer) != 2:
            return 1
        print("offer", bytes(offer).hex(), flush=True)
        server = next((o[1] for o in offer[DHCP].options
                       if isinstance(o, tuple) and o[0] == "server_id"), None)
        request = head / bootp / DHCP(options=[("message-type", "request"),
                                               ("requested_addr", offer.yiaddr),
                                               ("server_id", server)] + asks + ["end"])
        reply = exchange(listen, request, xid, args.timeout, args.retries)
        if reply is None:
            return 1
        kind = message_type(reply)
        print(NAMES.get(kind, str(kind)), bytes(reply).hex(), flush=True)
        return 0 if kind == 5 else 2
    finally:
        listen.close()


if __name__ == "__main__":
    sys.exit(main())
