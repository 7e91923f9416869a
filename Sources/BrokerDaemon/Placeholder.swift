// BrokerDaemon
