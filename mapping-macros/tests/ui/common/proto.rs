// The prost types of ui.v1 (what prost-build would generate for ui.proto).
pub mod ui {
    pub mod v1 {
        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct Placed {
            #[prost(string, tag = "1")]
            pub id: ::prost::alloc::string::String,
            #[prost(string, tag = "2")]
            pub customer_id: ::prost::alloc::string::String,
            #[prost(int64, tag = "3")]
            pub total: i64,
            #[prost(string, tag = "4")]
            pub r#type: ::prost::alloc::string::String,
        }

        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct Shipped {
            #[prost(enumeration = "Carrier", tag = "1")]
            pub carrier: i32,
        }

        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct Parcel {
            #[prost(int32, tag = "1")]
            pub grams: i32,
        }

        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct Packed {
            #[prost(message, repeated, tag = "1")]
            pub parcels: ::prost::alloc::vec::Vec<Parcel>,
        }

        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct Returned {
            #[prost(oneof = "returned::Reason", tags = "1, 2")]
            pub reason: ::core::option::Option<returned::Reason>,
        }

        pub mod returned {
            #[derive(Clone, PartialEq, ::prost::Oneof)]
            pub enum Reason {
                #[prost(string, tag = "1")]
                Damaged(::prost::alloc::string::String),
                #[prost(string, tag = "2")]
                Other(::prost::alloc::string::String),
            }
        }

        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
        #[repr(i32)]
        pub enum Carrier {
            Unspecified = 0,
            Ups = 1,
            Dhl = 2,
        }
    }
}
