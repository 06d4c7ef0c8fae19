"""Router adapter microservice: provisions PPPoE secrets and hotspot users on MikroTik routers (RouterOS API)."""
