"""Engine: pure Python, no mitmproxy. Location resolution, pairing, chains, facts."""
