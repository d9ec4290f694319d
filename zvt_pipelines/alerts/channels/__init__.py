"""Delivery channels: email, Slack, Discord, SMS (Twilio), signed webhook and ntfy push."""
