// BrokerWire
