"""One module per channel; each lists its adapters in ``ADAPTERS`` (see ``crossdesk.channels.adapter``)."""
