"""Region adapters: one subpackage per region, found through the ``tongban.adapters``
entry-point group. The core never imports them by name."""
