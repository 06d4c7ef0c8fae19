"""M-Pesa adapter microservice: the gateway's HTTP face onto Safaricom Daraja (STK push and STK query)."""
