// Package replicas holds end-to-end tests of several scimgate processes on
// one Redis: tokens, revocations and key rotations crossing replicas, and a
// rolling restart under steady load behind a health-checking balancer. The
// tests build the scimgate binary and run it as an operator would.
package replicas
