"""Audio frontends: the float reference and the device's integer frontend
(kwsdk.codegen.cfrontend.make_frontend picks the one training uses)."""
