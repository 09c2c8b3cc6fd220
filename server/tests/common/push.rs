//! Pyroscope's push messages (api/push/v1/push.proto, api/types/v1/types.proto), as a
//! client encodes them: written here from the public API, not shared with the server's own
//! definitions, so the tests check the wire format independently.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RawProfileSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct RawSample {
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    #[prost(string, tag = "2")]
    pub id: String,
}

/// One series with these labels and one raw profile.
pub fn series(labels: &[(&str, &str)], profile: Vec<u8>, id: &str) -> RawProfileSeries {
    RawProfileSeries {
        labels: labels
            .iter()
            .map(|(n, v)| LabelPair {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![RawSample {
            raw_profile: profile,
            id: id.into(),
        }],
    }
}
