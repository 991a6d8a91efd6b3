// Requests the gateway makes to addresses its customers give it: input URLs and webhooks.
