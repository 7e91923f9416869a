// BrokerSandbox
