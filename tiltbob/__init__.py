"""tiltbob's command line, and the runtime configuration the web app and the listener share."""
