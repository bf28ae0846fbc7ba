"""Simulated factory: device physics, scenarios, Modbus servers and fault injection."""
