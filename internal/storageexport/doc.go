// Package storageexport reads Braze Currents storage exports: the Avro object
// container files a Currents storage connector writes to S3, Google Cloud
// Storage or Azure Blob Storage, in Braze's key layout
//
//	<prefix>/dataexport.<cluster>.<S3|AzureBlob|GCS>.integration.<id>/
//	    event_type=<type>/date=<YYYY-MM-DD-HH>/<schema-id>/<zone>/<file>.avro
//
// It lists an export by event type and hour partition (so a selection cuts the
// listing, not only the reading), splits it into shards by key, reads each
// object's records as the flat storage-shape JSON that currents_to_segment
// maps, and keeps a checkpoint of the objects whose every event was delivered.
// It holds no Benthos: plugin/input_braze_storage.go adapts it.
//
// Braze warns that names in the layout may change, so nothing here requires
// it: any key ending in .avro under the prefix is an export object, and an
// object whose path names no type is typed by its schema's namespace and name.
// The layout is used where it is found, to skip partitions nobody asked for.
package storageexport
