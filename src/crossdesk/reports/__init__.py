"""Support reports: volume, response and resolution times, SLA attainment, backlog and per-agent figures."""
