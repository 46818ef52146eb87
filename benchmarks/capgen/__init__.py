"""Deterministic generator of realistic SIP/RTP captures, streamed to pcap or pcapng."""
