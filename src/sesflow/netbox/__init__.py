"""The NetBox client the notices flows share: `client` (HTTP, auth, retries, pagination, ETags), `notices`
(the plugin's operations), `records` (typed objects), `errors`. Light on imports for Lambda cold starts."""
